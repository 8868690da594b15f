"""Artifacts: what a task's ``artifact`` blocks download before it starts.

``source`` reads go-getter's source grammar, ``fetchers`` fetch http(s), local
files and git, ``checksum`` verifies a download, ``unpack`` extracts archives
without letting them write outside the destination, ``getter`` runs
go-getter's steps in order and moves the result into place, and ``hook`` is
the task runner's prestart hook.  The client's ``artifact`` settings are
:class:`nomadjail.helper.artifact_config.ArtifactConfig`.
"""
