"""End to end: a real ``nomadjail agent -dev``, ``nomadjail job run``, and the dashboard.

The agent is the shared ``dev_agent`` fixture of tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from nomadjail.testing import AgentProcess

EXAMPLE_JOB = Path(__file__).resolve().parents[2] / "examples" / "example.nomad"
WAIT_S = 30  # scheduling and starting a real task on a busy CI box



def wait_until(browser: WebDriver, condition, message: str):
    return WebDriverWait(browser, WAIT_S, ignored_exceptions=(Exception,)).until(
        lambda b: condition(b), message)


def nomadjail(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NOMAD_ADDR": agent.address})


@pytest.fixture
def example_job(browser: WebDriver, dev_agent: AgentProcess) -> Iterator[None]:
    """Purges the example job afterwards, once the browser has left the agent's page."""
    try:
        yield
    finally:
        browser.get("about:blank")
        nomadjail(dev_agent, "job", "stop", "-purge", "example")


def test_job_run_then_the_dashboard_shows_the_job_its_allocation_and_logs(
        browser: WebDriver, dev_agent: AgentProcess, example_job: None) -> None:
    browser.get(dev_agent.address + "/")
    wait_until(browser,
               lambda b: b.find_elements(By.CSS_SELECTOR, '[data-test="jobs"] .content > *'),
               "the jobs page to load")

    run = nomadjail(dev_agent, "job", "run", "-detach", str(EXAMPLE_JOB))
    assert run.returncode == 0, run.stderr + run.stdout

    # No reload: the open jobs list picks the job up by itself.
    example_row = '[data-test="job-row"][data-id="example"]'
    wait_until(browser, lambda b: "1 running" in b.find_element(By.CSS_SELECTOR, example_row).text,
               "the example job to show a running allocation")
    browser.find_element(By.CSS_SELECTOR, f'{example_row} [data-test="job-link"]').click()

    wait_until(browser, lambda b: b.find_element(
        By.CSS_SELECTOR, '[data-test="alloc-row"] [data-test="alloc-link"]'),
        "the example job's allocation").click()
    task = wait_until(browser, lambda b: b.find_element(
        By.CSS_SELECTOR, '[data-test="task"][data-task="hello"]'), "the hello task")
    wait_until(browser, lambda b: task.find_element(
        By.CSS_SELECTOR, '[data-test="task-state"]').text == "running", "the task to run")
    wait_until(browser, lambda b: "hello from example.greeter[0]" in task.find_element(
        By.CSS_SELECTOR, '[data-test="log-stdout"]').text, "the task's stdout")
    events = [e.text for e in task.find_elements(By.CSS_SELECTOR, '[data-test="event-type"]')]
    assert "Started" in events
