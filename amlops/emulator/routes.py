"""The routing table: (method, path template, handler). Matched case-insensitively, first hit wins.

``{name}`` matches one path segment, ``{name*}`` one or more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from amlops.emulator.api import authorization as auth
from amlops.emulator.api import (
    common,
    computes,
    datastores,
    endpoints,
    jobs,
    labeling,
    network,
    resources,
    runhistory,
    schedules,
    workspaces,
)
from amlops.emulator.errors import ArmError
from amlops.emulator.http import Request, Response
from amlops.emulator.state import State

Handler = Callable[[State, Request], Response]

S = "/subscriptions/{sub}"
G = S + "/resourceGroups/{rg}"
W = G + "/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
ASSETS = "{asset}"  # environments, models, data, codes, components
ROLES = "/providers/Microsoft.Authorization/roleAssignments"
LOCKS = "/providers/Microsoft.Authorization/locks"

Row = tuple[str, str, Handler]


def _collection(path: str, list_: Handler, put: Handler, get: Handler, delete: Handler | None = None) -> list[Row]:
    """ARM's verbs on a collection: GET lists it; PUT, GET (and DELETE, where the kind has it) act on one by name."""
    rows: list[Row] = [("GET", path, list_), ("PUT", path + "/{name}", put), ("GET", path + "/{name}", get)]
    return rows + ([("DELETE", path + "/{name}", delete)] if delete else [])


TABLE: list[Row] = [
    # long-running operation monitors
    ("GET", S + "/providers/{ns}/locations/{loc}/{monitor:operationStatuses|computeOperationsStatus|mfeOperationsStatus}/{op}", common.operation_status),
    ("GET", S + "/providers/{ns}/locations/{loc}/{monitor:operationResults|mfeOperationResults}/{op}", common.operation_result),
    ("GET", S + "/providers/{ns}/locations/{loc}/workspaceOperationsStatus/{op}", common.workspace_operation),
    # role assignments: any scope
    *_collection("/{scope*}" + ROLES, auth.list_assignments, auth.put_assignment, auth.get_assignment, auth.delete_assignment),
    # role definitions, management locks, the caller's permissions: any scope
    ("GET", "/{scope*}/providers/Microsoft.Authorization/roleDefinitions/{name}", auth.get_role_definition),
    *_collection("/{scope*}" + LOCKS, auth.list_locks, auth.put_lock, auth.get_lock, auth.delete_lock),
    ("GET", "/{scope*}/providers/Microsoft.Authorization/permissions", auth.list_permissions),
    ("POST", "/{scope*}/providers/Microsoft.PolicyInsights/checkPolicyRestrictions", auth.check_policy_restrictions),
    ("GET", "/{scope*}/providers/Microsoft.Authorization/policyAssignments", auth.list_policy_assignments),
    ("GET", "/{scope*}/providers/Microsoft.Authorization/policyDefinitions/{name}", auth.get_policy_definition),
    ("GET", "/{scope*}/providers/Microsoft.Authorization/policySetDefinitions/{name}", auth.get_policy_set_definition),
    # Microsoft Graph: which principals still exist (models/authz.py)
    ("POST", "/v1.0/directoryObjects/getByIds", auth.directory_objects_by_ids),
    # metrics of an online endpoint (Azure Monitor)
    ("GET", "{resource*}/providers/Microsoft.Insights/metrics", endpoints.endpoint_metrics),
    # Microsoft.Resources
    ("GET", S, resources.get_subscription),
    ("GET", S + "/resourcegroups", resources.list_groups),
    ("PUT", G, resources.put_group),
    ("GET", G, resources.get_group),
    ("HEAD", G, resources.head_group),
    ("DELETE", G, resources.delete_group),
    ("GET", S + "/providers", resources.list_providers),
    ("GET", S + "/providers/{ns}", resources.get_provider),
    ("POST", S + "/providers/{ns}/register", resources.register_provider),
    ("GET", S + "/resources", resources.list_resources),
    ("GET", G + "/resources", resources.list_resources),
    ("POST", G + "/validateMoveResources", resources.validate_move),
    ("POST", G + "/moveResources", resources.move),
    # workspaces
    ("GET", S + "/providers/Microsoft.MachineLearningServices/workspaces", workspaces.list_workspaces_in_subscription),
    ("GET", G + "/providers/Microsoft.MachineLearningServices/workspaces", workspaces.list_workspaces_in_group),
    ("PUT", W, workspaces.put_workspace),
    ("GET", W, workspaces.get_workspace),
    ("PATCH", W, workspaces.patch_workspace),
    ("DELETE", W, workspaces.delete_workspace),
    ("POST", W + "/listKeys", workspaces.list_keys),
    # computes
    *_collection(W + "/computes", computes.list_computes, computes.put_compute, computes.get_compute, computes.delete_compute),
    ("PATCH", W + "/computes/{name}", computes.patch_compute),
    ("POST", W + "/computes/{name}/start", computes.start_compute),
    ("POST", W + "/computes/{name}/stop", computes.stop_compute),
    ("POST", W + "/computes/{name}/restart", computes.restart_compute),
    ("POST", W + "/computes/{name}/updateIdleShutdownSetting", computes.update_idle_shutdown),
    ("POST", W + "/computes/{name}/listNodes", computes.list_nodes),
    # online endpoints and their deployments; batch endpoints
    *_collection(W + "/onlineEndpoints/{endpoint}/deployments", endpoints.list_deployments, endpoints.put_deployment, endpoints.get_deployment, endpoints.delete_deployment),
    *_collection(W + "/batchEndpoints/{endpoint}/deployments", endpoints.list_batch_deployments, endpoints.put_batch_deployment, endpoints.get_batch_deployment),
    ("POST", W + "/onlineEndpoints/{name}/token", endpoints.endpoint_token),
    *_collection(W + "/{kind:onlineEndpoints|batchEndpoints}", endpoints.list_endpoints, endpoints.put_endpoint, endpoints.get_endpoint, endpoints.delete_endpoint),
    # jobs, and their run history (Azure ML's data plane: /history/v1.0/{workspace}/runs/{run}/details)
    ("GET", "/history/v1.0" + W + "/runs/{run}/details", jobs.run_details),
    *_collection(W + "/jobs", jobs.list_jobs, jobs.put_job, jobs.get_job, jobs.delete_job),
    # v1 run history: experiments and their runs (azureml-core's Run History client; models/runhistory.py)
    ("POST", "/history/v1.0" + W + "/experiments:query", runhistory.query_experiments),
    ("POST", "/history/v1.0" + W + "/experiments/{experiment}/runs:query", runhistory.query_runs),
    ("PATCH", "/history/v1.0" + W + "/experiments/{experiment}/runs/{run}", runhistory.patch_run),
    ("GET", "/history/v1.0" + W + "/experiments/{experiment}/runs/{run}", runhistory.get_run),
    ("POST", "/history/v1.0" + W + "/experiments/{experiment}", runhistory.create_experiment),
    ("POST", W + "/jobs/{name}/cancel", jobs.cancel_job),
    # labeling projects; v1 web services, listed by the model management service
    *_collection(W + "/labelingJobs", labeling.list_labeling_jobs, labeling.put_labeling_job, labeling.get_labeling_job),
    ("POST", W + "/labelingJobs/{name}/pause", labeling.pause_labeling_job),
    ("POST", W + "/labelingJobs/{name}/resume", labeling.resume_labeling_job),
    ("GET", "/modelmanagement/v1.0" + W + "/services", labeling.list_services),
    ("DELETE", "/modelmanagement/v1.0" + W + "/services/{name}", labeling.delete_service),
    # Azure ML schedules
    *_collection(W + "/schedules", schedules.list_schedules, schedules.put_schedule, schedules.get_schedule, schedules.delete_schedule),
    # datastores
    *_collection(W + "/datastores", datastores.list_datastores, datastores.put_datastore, datastores.get_datastore, datastores.delete_datastore),
    ("POST", W + "/datastores/{name}/listSecrets", datastores.list_secrets),
    # private endpoint connections
    *_collection(W + "/privateEndpointConnections", network.list_connections, network.put_connection, network.get_connection, network.delete_connection),
    ("GET", W + "/privateLinkResources", network.list_private_link_resources),
    # assets that move with the workspace: containers and versions
    ("GET", W + "/{asset:environments|models|data|codes|components}", workspaces.list_assets),
    ("GET", W + "/{asset:environments|models|data|codes|components}/{name}/versions", workspaces.list_assets),
    ("PUT", W + "/{asset:environments|models|data|codes|components}/{name}", workspaces.put_asset),
    ("GET", W + "/{asset:environments|models|data|codes|components}/{name}", workspaces.get_asset),
    ("PUT", W + "/{asset:environments|models|data|codes|components}/{name}/versions/{version}", workspaces.put_asset),
    ("GET", W + "/{asset:environments|models|data|codes|components}/{name}/versions/{version}", workspaces.get_asset),
    # anything else with a provider path: a generic ARM resource
    ("GET", G + "/providers/{ns}/{rest*}", resources.get_resource),
    ("PUT", G + "/providers/{ns}/{rest*}", resources.put_resource),
    ("DELETE", G + "/providers/{ns}/{rest*}", resources.delete_resource),
]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(template: str) -> re.Pattern[str]:
    def group(m: re.Match[str]) -> str:
        name, _, choices = m.group(1).partition(":")
        if name.endswith("*"):
            return f"(?P<{name[:-1]}>.+?)"
        return f"(?P<{name}>{choices})" if choices else f"(?P<{name}>[^/]+)"

    return re.compile("^" + re.sub(r"\{([^}]+)\}", group, template) + "/?$", re.IGNORECASE)


ROUTES = [Route(m, t, _compile(t), h) for m, t, h in TABLE]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request and its path parameters, or ARM's error for an unknown one."""
    path_known = False
    for route in ROUTES:
        m = route.pattern.match(path)
        if m is None:
            continue
        if route.method == method:
            return route, {k: v for k, v in m.groupdict().items() if v is not None}
        path_known = True
    if path_known:
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on '{path}'.")
    raise ArmError(404, "InvalidResourceType", f"No operation of this emulator serves {method} '{path}'.")
