"""What a user sees in the dashboard: lists, detail pages, live updates, errors."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from nomadjail.structs import (
    Allocation,
    AllocClientStatus,
    Job,
    Node,
    TaskEvent,
    TaskState,
    now_ns,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_batch_job, mock_eval, mock_job, mock_node

if TYPE_CHECKING:  # fixtures come from conftest.py; never import it at run time
    from .conftest import Dashboard

WAIT_S = 10


def css(browser: WebDriver, selector: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, selector)


def wait_until(browser: WebDriver, condition, message: str):
    """WebDriverWait with the dashboard's deadline; stale elements count as "not yet"
    because every refresh redraws whole tables."""
    return WebDriverWait(browser, WAIT_S, ignored_exceptions=(Exception,)).until(
        lambda b: condition(b), message)


def row_texts(browser: WebDriver, row_test: str) -> dict[str, str]:
    """data-id -> visible text of every row with data-test=row_test."""
    rows = css(browser, f'[data-test="{row_test}"]')
    return {row.get_attribute("data-id"): row.text for row in rows}


def open_page(browser: WebDriver, dashboard: Dashboard, hash_route: str) -> None:
    browser.get(f"{dashboard.url}/ui/{hash_route}")


def set_up_job(dashboard: Dashboard, job: Job, node: Node,
               statuses: list[str]) -> list[Allocation]:
    """Register ``job`` with one evaluation and an allocation per status on ``node``."""
    allocs = [mock_alloc(job, node, index=i, client_status=status)
              for i, status in enumerate(statuses)]
    with dashboard.write() as txn:
        txn.upsert_node(node)
        txn.upsert_job(job, submit_time=now_ns())
        txn.upsert_evals([mock_eval(job)])
        txn.upsert_allocs(allocs)
    return allocs


@pytest.fixture(scope="module")
def node(dashboard: Dashboard) -> Node:
    node = mock_node(name="client-one")
    with dashboard.write() as txn:
        txn.upsert_node(node)
    return node


def test_root_redirects_to_the_jobs_list_which_shows_every_job(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    web = mock_job(job_id="list-web", count=3)
    report = mock_batch_job(job_id="list-report", count=1)
    set_up_job(dashboard, web, node, [AllocClientStatus.RUNNING, AllocClientStatus.RUNNING,
                                      AllocClientStatus.FAILED])
    set_up_job(dashboard, report, node, [AllocClientStatus.COMPLETE])

    browser.get(dashboard.url + "/")
    rows = wait_until(browser, lambda b: (r := row_texts(b, "job-row")).keys()
                      >= {"list-web", "list-report"} and r, "both jobs listed")

    assert browser.current_url.endswith("/ui/#/jobs")
    assert "service" in rows["list-web"] and "2 running" in rows["list-web"]
    assert "1 failed" in rows["list-web"] and "running" in rows["list-web"]
    assert "batch" in rows["list-report"] and "1 complete" in rows["list-report"]
    assert "ago" in rows["list-web"] or "just now" in rows["list-web"]  # submit time
    current = css(browser, '#nav a[aria-current="page"]')
    assert [a.text for a in current] == ["Jobs"]


def test_clicking_a_job_shows_its_groups_and_allocations(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    job = mock_job(job_id="detail-web", count=3)
    allocs = set_up_job(dashboard, job, node, [AllocClientStatus.RUNNING,
                                               AllocClientStatus.PENDING,
                                               AllocClientStatus.FAILED])
    open_page(browser, dashboard, "#/jobs")
    link = wait_until(browser, lambda b: b.find_element(
        By.CSS_SELECTOR, '[data-test="job-row"][data-id="detail-web"] [data-test="job-link"]'),
        "the job's link")
    link.click()

    groups = wait_until(browser, lambda b: row_texts(b, "group-row").get("web"), "group row")
    group = css(browser, '[data-test="group-row"][data-id="web"]')[0]
    counts = {name: group.find_element(By.CSS_SELECTOR, f'[data-test="group-{name}"]').text
              for name in ("queued", "starting", "running", "complete", "failed", "lost")}
    assert counts == {"queued": "0", "starting": "1", "running": "1", "complete": "0",
                      "failed": "1", "lost": "0"}
    assert groups.split()[:2] == ["web", "3"]  # name and desired count

    rows = wait_until(browser, lambda b: len(r := row_texts(b, "alloc-row")) == 3 and r,
                      "three allocation rows")
    assert set(rows) == {a.id for a in allocs}
    for alloc in allocs:
        assert alloc.id[:8] in rows[alloc.id]
        assert "client-one" in rows[alloc.id] and "web" in rows[alloc.id]
        assert alloc.client_status in rows[alloc.id]
    assert "#/jobs/detail-web" in browser.current_url
    overview = css(browser, '[data-test="job-overview"]')[0].text
    assert "service" in overview and "dc1" in overview
    assert css(browser, '[data-test="field-version"]')[0].text == "0"
    assert len(wait_until(browser, lambda b: css(b, '[data-test="eval-row"]'),
                          "evaluation row")) == 1


def test_allocation_page_shows_task_states_and_events(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    job = mock_job(job_id="alloc-web", count=1)
    started = now_ns() - 90 * 1_000_000_000
    alloc = mock_alloc(job, node, client_status=AllocClientStatus.RUNNING)
    alloc.task_states = {"web": TaskState(
        state="running", restarts=2, started_at=rfc3339(started),
        events=[TaskEvent(type="Received", time=started - 2_000_000_000,
                          display_message="Task received by client"),
                TaskEvent(type="Restarting", time=started - 1_000_000_000,
                          display_message="Task restarting in 15s"),
                TaskEvent(type="Started", time=started,
                          display_message="Task started by client <b>&amp;</b>")])}
    with dashboard.write() as txn:
        txn.upsert_job(job, submit_time=now_ns())
        txn.upsert_allocs([alloc])
    # More than the 4096 bytes the page asks for, so the tail starts mid-line.
    lines = [f"request {i:04d} served" for i in range(400)]
    dashboard.client.write_log(alloc.id, "web", "stdout", "\n".join(lines) + "\n")

    open_page(browser, dashboard, "#/jobs/alloc-web")
    wait_until(browser, lambda b: b.find_element(
        By.CSS_SELECTOR, f'[data-test="alloc-row"][data-id="{alloc.id}"] a'),
        "the allocation link").click()

    task = wait_until(browser, lambda b: b.find_element(
        By.CSS_SELECTOR, '[data-test="task"][data-task="web"]'), "the task block")
    assert task.find_element(By.CSS_SELECTOR, '[data-test="task-state"]').text == "running"
    assert task.find_element(By.CSS_SELECTOR, '[data-test="field-restarts"]').text == "2"
    assert task.find_element(By.CSS_SELECTOR, '[data-test="field-started"]').text == "1m ago"
    messages = [e.text for e in task.find_elements(By.CSS_SELECTOR, '[data-test="event-message"]')]
    # Newest first, and API text is shown as text, never parsed as markup.
    assert messages == ["Task started by client <b>&amp;</b>", "Task restarting in 15s",
                        "Task received by client"]
    types = [e.text for e in task.find_elements(By.CSS_SELECTOR, '[data-test="event-type"]')]
    assert types == ["Started", "Restarting", "Received"]
    assert not css(browser, "b")  # the "<b>" stayed text

    overview = css(browser, '[data-test="alloc-overview"]')[0].text
    assert alloc.id in overview and "alloc-web" in overview and "client-one" in overview
    assert css(browser, '[data-test="alloc-status"]')[0].text == "running"
    stdout = wait_until(browser, lambda b: (t := css(b, '[data-test="log-stdout"]')[0].text)
                        != "loading…" and t, "the stdout pane to settle")
    shown = stdout.splitlines()
    assert shown[-1] == "request 0399 served"
    assert shown == lines[-len(shown):]  # whole lines only: the cut first line is dropped
    assert 4096 // 30 < len(shown) < 4096 // 15
    # Nothing was written to stderr: the pane shows the API's 404 instead of logs.
    stderr = wait_until(browser, lambda b: (t := css(b, '[data-test="log-stderr"]')[0].text)
                        != "loading…" and t, "the stderr pane to settle")
    assert stderr == ('logs unavailable: 404 Not Found: log entry for task "web" and '
                      'log type "stderr" not found')


def test_clients_page_lists_nodes_and_links_to_a_client(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    job = mock_job(job_id="client-web", count=1)
    other = mock_node(name="client-two", datacenter="dc2", drivers=("raw_exec",))
    with dashboard.write() as txn:
        txn.upsert_node(other)
    alloc = set_up_job(dashboard, job, other, [AllocClientStatus.RUNNING])[0]

    open_page(browser, dashboard, "#/clients")
    rows = wait_until(browser, lambda b: (r := row_texts(b, "client-row")).keys()
                      >= {node.id, other.id} and r, "both clients listed")
    assert "client-two" in rows[other.id] and "dc2" in rows[other.id]
    assert "ready" in rows[other.id] and "eligible" in rows[other.id]
    assert "raw_exec" in rows[other.id] and "mock_driver" not in rows[other.id]
    assert "127.0.0.1" in rows[other.id]

    css(browser, f'[data-test="client-row"][data-id="{other.id}"] a')[0].click()
    allocs = wait_until(browser, lambda b: row_texts(b, "alloc-row"), "the client's allocations")
    assert list(allocs) == [alloc.id] and "client-web" in allocs[alloc.id]
    assert "client-two" in css(browser, '[data-test="client-title"]')[0].text


def test_servers_page_lists_members_and_marks_the_leader(
        browser: WebDriver, dashboard: Dashboard) -> None:
    open_page(browser, dashboard, "#/servers")
    rows = wait_until(browser, lambda b: len(r := row_texts(b, "server-row")) == 2 and r,
                      "two server rows")
    assert "127.0.0.1" in rows["alpha.global"] and "leader" in rows["alpha.global"]
    assert "alive" in rows["beta.global"] and "dc2" in rows["beta.global"]
    assert "leader" not in rows["beta.global"]
    assert "global" in rows["beta.global"]
    assert dashboard.server.leader in css(browser, '[data-test="leader-address"]')[0].text


def test_jobs_registered_or_updated_after_load_appear_without_reloading(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    open_page(browser, dashboard, "#/jobs")
    wait_until(browser, lambda b: css(b, '[data-test="jobs-table"]'), "the jobs table")
    browser.execute_script("window.__sameDocument = true;")

    late = mock_job(job_id="late-arrival", count=2)
    set_up_job(dashboard, late, node, [AllocClientStatus.PENDING, AllocClientStatus.PENDING])
    row = wait_until(browser, lambda b: row_texts(b, "job-row").get("late-arrival"),
                     "the new job to appear")
    assert "2 starting" in row

    # The client reports both allocations running: the counts follow.
    with dashboard.write() as txn:
        running = [dataclasses.replace(a, client_status=AllocClientStatus.RUNNING)
                   for a in txn.allocs_by_job("default", "late-arrival")]
        txn.update_allocs_from_client(running)
    row = wait_until(browser, lambda b: "2 running" in (r := row_texts(b, "job-row")
                                                         .get("late-arrival", "")) and r,
                     "the counts to update")
    assert "starting" not in row
    assert browser.execute_script("return window.__sameDocument === true;")


def test_job_page_follows_a_new_version_without_reloading(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    job = mock_job(job_id="versioned", count=1)
    set_up_job(dashboard, job, node, [AllocClientStatus.RUNNING])
    open_page(browser, dashboard, "#/jobs/versioned")
    wait_until(browser, lambda b: css(b, '[data-test="field-version"]')[0].text == "0",
               "version 0")
    browser.execute_script("window.__sameDocument = true;")

    changed = job.copy()
    changed.task_groups[0].count = 4
    changed.priority = 70
    with dashboard.write() as txn:
        txn.upsert_job(changed, submit_time=now_ns())
    wait_until(browser, lambda b: css(b, '[data-test="field-version"]')[0].text == "1",
               "version 1")
    assert css(browser, '[data-test="field-priority"]')[0].text == "70"
    assert row_texts(browser, "group-row")["web"].split()[:2] == ["web", "4"]
    assert browser.execute_script("return window.__sameDocument === true;")


def test_unknown_job_shows_the_api_404_message_until_it_exists(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    open_page(browser, dashboard, "#/jobs/arrives-later")
    error = wait_until(
        browser, lambda b: css(b, '[data-test="job-overview"] [data-test="error"]')[0],
        "the error box")
    assert error.text == "404 Not Found: job not found"
    assert len(css(browser, '[data-test="error"]')) == 1  # said once, not per section
    assert not css(browser, '[data-test="allocations-table"]')[0].is_displayed()

    # The page keeps retrying: once the job exists it shows up in place of the error.
    set_up_job(dashboard, mock_job(job_id="arrives-later", count=1), node,
               [AllocClientStatus.RUNNING])
    wait_until(browser, lambda b: css(b, '[data-test="field-type"]')[0].text == "service",
               "the job to replace the error")
    assert not css(browser, '[data-test="error"]')
    assert len(wait_until(browser, lambda b: css(b, '[data-test="alloc-row"]'), "allocations")) == 1


def test_job_ids_with_slashes_and_spaces_link_to_their_page(
        browser: WebDriver, dashboard: Dashboard, node: Node) -> None:
    odd_id = "web app #1?x=<y>&z"
    set_up_job(dashboard, mock_job(job_id=odd_id, count=1), node, [AllocClientStatus.RUNNING])
    open_page(browser, dashboard, "#/jobs")
    link = f'//a[@data-test="job-link" and text()="{odd_id}"]'
    wait_until(browser, lambda b: b.find_element(By.XPATH, link), "the odd job's link").click()
    title = wait_until(browser, lambda b: (t := css(b, '[data-test="job-title"]')[0].text)
                       .endswith("running") and t, "the odd job's page")
    assert title == f"{odd_id} running"
    assert wait_until(browser, lambda b: row_texts(b, "group-row").get("web"), "its group")


def test_route_that_does_not_exist_says_so(browser: WebDriver, dashboard: Dashboard) -> None:
    open_page(browser, dashboard, "#/no/such/page")
    message = wait_until(browser, lambda b: css(b, '[data-test="route-not-found"]')[0].text,
                         "the not-found message")
    assert "/no/such/page" in message


def test_format_helpers(browser: WebDriver, dashboard: Dashboard) -> None:
    """format.js, run in the browser that uses it."""
    open_page(browser, dashboard, "#/servers")
    results = browser.execute_async_script(r"""
        const done = arguments[arguments.length - 1];
        import("/ui/js/format.js").then((f) => {
          const now = Date.parse("2024-05-01T12:00:00Z");
          done({
            short: f.shortId("0123456789abcdef"),
            seconds: f.relativeTime(now - 5000, now),
            minutes: f.relativeTime(now - 150000, now),
            hours: f.relativeTime(now - 2 * 3600000, now),
            days: f.relativeTime(now - 3 * 86400000, now),
            future: f.relativeTime(now + 10000, now),
            nanos: f.toMillis(1714564800000000000),
            rfc: f.toMillis("2024-05-01T12:00:00Z"),
            zero: f.toMillis("0001-01-01T00:00:00Z"),
            unset: f.toMillis(0),
            tail: f.tailLines("partial\nline one\nline two\n", 10),
            whole: f.tailLines("line one\n", 4096),
            sum: f.sumSummary({Summary: {a: {Running: 2, Failed: 1}, b: {Running: 1, Lost: 4}}}),
          });
        });
    """)
    assert results["short"] == "01234567"
    assert [results[k] for k in ("seconds", "minutes", "hours", "days", "future")] == [
        "5s ago", "2m ago", "2h ago", "3d ago", "in 10s"]
    assert results["nanos"] == results["rfc"] == 1714564800000
    assert results["zero"] is None and results["unset"] is None
    assert results["tail"] == "line one\nline two\n"
    assert results["whole"] == "line one\n"
    assert results["sum"] == {"Queued": 0, "Starting": 0, "Running": 3, "Complete": 0,
                              "Failed": 1, "Lost": 4}
