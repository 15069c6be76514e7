"""Deployments and their schedules (Python), mirrored by prefect.yaml for `prefect deploy`."""
