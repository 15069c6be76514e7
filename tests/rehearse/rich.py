"""A rich workspace for round trips: settings the demo does not use, secrets planted where Azure keeps them,
three subscriptions involved, locks and role assignments at every scope a move touches, actions denied to the
caller and deny policies in the target, and things that must stay out of a snapshot (an unrelated resource
group's lock and policy, secrets)."""

from __future__ import annotations

from typing import Any

SUB, HUB_SUB, TARGET_SUB = "aaaaaaaa-1111-1111-1111-111111111111", "bbbbbbbb-3333-3333-3333-333333333333", "cccccccc-2222-2222-2222-222222222222"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-rich"
AKS_RG = f"/subscriptions/{HUB_SUB}/resourceGroups/aks-hub"
OTHER_RG = f"/subscriptions/{SUB}/resourceGroups/unrelated"
TARGET_RG = f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-rich-moved"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-rich-ws"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlrichstorage"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/mlrichkv"
REGISTRY = f"{RG}/providers/Microsoft.ContainerRegistry/registries/mlrichacr"
INSIGHTS = f"{RG}/providers/Microsoft.Insights/components/mlrichai"
CLUSTER = f"{AKS_RG}/providers/Microsoft.ContainerService/managedClusters/hub-aks"
UAI = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml-rich-uai"
ROLE = "/subscriptions/" + SUB + "/providers/Microsoft.Authorization/roleDefinitions/"

# Secrets planted in the source: none may reach a snapshot file.
SECRETS = {
    "account key": "UExBTlRFRC1hY2NvdW50LWtleS0xMjM0NQ==",
    "sas token": "sv=2024-01-01&sig=PLANTED-sas-signature-67890",
    "client secret": "PLANTED~client~secret~abcdef",
    "insights key": "PLANTED-4d1c-instrumentation-key",
    "insights connection": "InstrumentationKey=PLANTED-4d1c-instrumentation-key;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
    "emulator workspace key": "ZW11bGF0b3Ita2V5",  # what the emulator's listKeys and default datastores hand out
}


def _instance(name: str, user: str, state: str, **inner: Any) -> dict[str, Any]:
    return {
        "name": name,
        "location": "westeurope",
        "tags": {"owner": user, "cost-center": "cc-42"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {UAI: {"principalId": "11110000-0000-0000-0000-000000000001", "clientId": "11110000-0000-0000-0000-000000000002"}}},
        "properties": {
            "computeType": "ComputeInstance",
            "description": f"{user}'s instance",
            "disableLocalAuth": True,
            "properties": {
                "vmSize": "STANDARD_E8S_V3",
                "state": state,
                "idleTimeBeforeShutdown": "PT90M",
                "enableNodePublicIp": False,
                "subnet": {"id": f"{RG}/providers/Microsoft.Network/virtualNetworks/ml-vnet/subnets/compute"},
                "sshSettings": {"sshPublicAccess": "Enabled", "adminUserName": "azureuser", "adminPublicKey": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 rich@laptop", "sshPort": 4001},
                "computeInstanceAuthorizationType": "personal",
                "personalComputeInstanceSettings": {"assignedUser": {"objectId": f"0000000{user[0]}-0000-0000-0000-000000000001", "tenantId": TENANT}},
                "setupScripts": {"scripts": {
                    "creationScript": {"scriptSource": "workspaceStorage", "scriptData": f"Users/{user}/create.sh", "scriptArguments": "--conda", "timeout": "15m"},
                    "startupScript": {"scriptSource": "inline", "scriptData": "ZWNobyBoZWxsbw==", "timeout": "5m"},
                }},
                "schedules": {"computeStartStop": [
                    {"status": "Enabled", "action": "Start", "triggerType": "Cron", "cron": {"expression": "30 7 * * 1-5", "timeZone": "W. Europe Standard Time"}},
                    {"status": "Enabled", "action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 20 * * 1-5", "timeZone": "W. Europe Standard Time"}},
                    {"status": "Disabled", "action": "Stop", "triggerType": "Recurrence", "recurrence": {"frequency": "Day", "interval": 1, "timeZone": "UTC", "schedule": {"hours": [23], "minutes": [0]}}},
                ]},
                **inner,
            },
        },
    }  # fmt: skip


def scenario() -> dict[str, Any]:
    providers = {"Microsoft.MachineLearningServices": "Registered", "Microsoft.Storage": "Registered", "Microsoft.ContainerRegistry": "Registered",
                 "Microsoft.KeyVault": "Registered", "Microsoft.Notebooks": "Registered", "Microsoft.ContainerService": "Registered",
                 "Microsoft.Insights": "Registered", "Microsoft.Network": "Registered", "Microsoft.Databricks": "NotRegistered"}  # fmt: skip
    datastore = lambda name, **props: {"name": name, "properties": {"endpoint": "core.windows.net", "protocol": "https", "subscriptionId": SUB, "resourceGroup": "ml-rich", **props}}  # noqa: E731
    return {
        "subscriptions": [
            {"id": SUB, "tenant": TENANT, "region": "westeurope", "providers": providers},
            {"id": HUB_SUB, "tenant": TENANT, "region": "westeurope"},
            {"id": TARGET_SUB, "tenant": TENANT, "region": "westeurope", "providers": {**providers, "Microsoft.Notebooks": "Registering"}},
        ],
        "resource_groups": [
            {"id": RG, "location": "westeurope", "tags": {"env": "prod", "owner": "ml-platform"}},
            {"id": AKS_RG, "location": "westeurope", "tags": {"env": "shared"}},
            {"id": OTHER_RG, "location": "westeurope"},
            {"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-rich-moved", "location": "westeurope", "tags": {"env": "prod"}},
        ],
        "resources": [
            {"id": STORAGE, "location": "westeurope", "sku": {"name": "Standard_ZRS"}, "kind": "StorageV2", "tags": {"data": "confidential"},
             "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False, "isHnsEnabled": True}},
            {"id": VAULT, "location": "westeurope", "properties": {"tenantId": TENANT, "enableRbacAuthorization": True, "enableSoftDelete": True, "sku": {"family": "A", "name": "premium"}}},
            {"id": REGISTRY, "location": "westeurope", "sku": {"name": "Premium"}, "properties": {"adminUserEnabled": False}},
            {"id": INSIGHTS, "location": "westeurope", "kind": "web",
             "properties": {"Application_Type": "web", "InstrumentationKey": SECRETS["insights key"], "ConnectionString": SECRETS["insights connection"]}},
            {"id": CLUSTER, "location": "westeurope", "properties": {"kubernetesVersion": "1.30.3", "dnsPrefix": "hub-aks"}},
            {"id": f"{OTHER_RG}/providers/Microsoft.Storage/storageAccounts/unrelatedstore", "location": "westeurope", "properties": {}},
            # in the target group: one with the name of a resource that moves (Azure refuses the move), one without
            {"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-rich-moved/providers/Microsoft.Storage/storageAccounts/mlrichstorage", "location": "westeurope", "properties": {}},
            {"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-rich-moved/providers/Microsoft.Storage/storageAccounts/othername", "location": "westeurope", "properties": {}},
        ],  # fmt: skip
        "workspaces": [
            {
                "id": WS,
                "location": "westeurope",
                "tags": {"team": "risk", "criticality": "high"},
                "sku": {"name": "Enterprise", "tier": "Enterprise"},
                "kind": "Default",
                "identity": {"type": "SystemAssigned,UserAssigned", "principalId": "22220000-0000-0000-0000-000000000001", "tenantId": TENANT,
                             "userAssignedIdentities": {UAI: {"principalId": "11110000-0000-0000-0000-000000000001", "clientId": "11110000-0000-0000-0000-000000000002"}}},
                "properties": {
                    "description": "Risk models", "friendlyName": "Risk ML", "storageAccount": STORAGE, "keyVault": VAULT, "containerRegistry": REGISTRY,
                    "applicationInsights": INSIGHTS, "publicNetworkAccess": "Disabled", "hbiWorkspace": True, "v1LegacyMode": False,
                    "primaryUserAssignedIdentity": UAI, "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
                },
                "computes": [
                    _instance("carol-ci", "carol", "Running"),
                    _instance("dave-ci", "dave", "Stopped", enableOSPatching=True),
                    {"name": "train-cluster", "location": "westeurope", "tags": {"gpu": "a100"},
                     "identity": {"type": "UserAssigned", "userAssignedIdentities": {UAI: {}}},
                     "properties": {"computeType": "AmlCompute", "description": "A100 training",
                                    "properties": {"vmSize": "STANDARD_ND96ASR_V4", "vmPriority": "Dedicated", "osType": "Linux", "remoteLoginPortPublicAccess": "Disabled",
                                                   "scaleSettings": {"minNodeCount": 1, "maxNodeCount": 8, "nodeIdleTimeBeforeScaleDown": "PT30M"},
                                                   "enableNodePublicIp": False, "isolatedNetwork": False}}},
                    {"name": "hub-k8s", "location": "westeurope",
                     "properties": {"computeType": "Kubernetes", "resourceId": CLUSTER, "description": "shared AKS",
                                    "properties": {"namespace": "risk", "defaultInstanceType": "gpu", "instanceTypes": {"gpu": {"resources": {"requests": {"nvidia.com/gpu": 1}}}}}}},
                ],
                "online_endpoints": [
                    {"name": "risk-score", "location": "westeurope", "tags": {"slo": "99.9"}, "identity": {"type": "SystemAssigned"}, "kind": "Managed",
                     "properties": {"authMode": "AADToken", "description": "Risk scoring", "publicNetworkAccess": "Disabled", "traffic": {"v1": 70, "v2": 20, "shadow": 10}},
                     "deployments": [
                         {"name": n, "sku": {"name": "Default", "capacity": c}, "tags": {"model": n},
                          "properties": {"endpointComputeType": "Managed", "model": f"azureml:risk:{i + 1}", "instanceType": "Standard_F4s_v2",
                                         "scaleSettings": {"scaleType": "Default"}, "requestSettings": {"requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 2},
                                         "environmentVariables": {"LOG_LEVEL": "info"}, "appInsightsEnabled": True}}
                         for i, (n, c) in enumerate((("v1", 3), ("v2", 2), ("shadow", 1)))
                     ]},
                ],
                "batch_endpoints": [{"name": "nightly-batch", "location": "westeurope", "properties": {"authMode": "AADToken", "description": "Nightly scoring"},
                                     "deployments": [{"name": "scorer", "properties": {"compute": f"{WS}/computes/train-cluster", "description": "nightly scorer",
                                                                                       "maxConcurrencyPerInstance": 2, "outputAction": "AppendRow"}}]}],
                "datastores": [
                    datastore("ledger", datastoreType="AzureBlob", accountName="mlrichstorage", containerName="ledger", description="general ledger", tags={"pii": "yes"},
                              credentials={"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": SECRETS["account key"]}}),
                    datastore("landing", datastoreType="AzureBlob", accountName="mlrichstorage", containerName="landing",
                              credentials={"credentialsType": "Sas", "secrets": {"secretsType": "Sas", "sasToken": SECRETS["sas token"]}}),
                    datastore("lake", datastoreType="AzureDataLakeGen2", accountName="mlrichstorage", filesystem="lake", serviceDataAccessAuthIdentity="WorkspaceSystemAssignedIdentity",
                              credentials={"credentialsType": "ServicePrincipal", "clientId": "33330000-0000-0000-0000-000000000001", "tenantId": TENANT,
                                           "authorityUrl": "https://login.microsoftonline.com", "resourceUrl": "https://storage.azure.com/",
                                           "secrets": {"secretsType": "ServicePrincipal", "clientSecret": SECRETS["client secret"]}}),
                    datastore("shares", datastoreType="AzureFile", accountName="mlrichstorage", fileShareName="shares", credentials={"credentialsType": "None"}),
                ],
                "private_endpoint_connections": [
                    {"name": "pe-corp", "private_endpoint": f"/subscriptions/{HUB_SUB}/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/pe-corp", "status": "Approved", "description": "corp network"},
                    {"name": "pe-vendor", "private_endpoint": "/subscriptions/dddddddd-4444-4444-4444-444444444444/resourceGroups/v/providers/Microsoft.Network/privateEndpoints/pe-vendor", "status": "Rejected", "description": "not ours"},
                    {"name": "pe-new", "private_endpoint": f"/subscriptions/{HUB_SUB}/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/pe-new", "status": "Pending", "description": "please approve"},
                ],
                "role_assignments": [
                    {"name": "10000000-0000-0000-0000-000000000001", "roleDefinitionId": ROLE + "f6c7c914-8db3-469d-8ca1-694a8f32e121", "principalId": "0000000c-0000-0000-0000-000000000001", "principalType": "User", "description": "Carol"},
                    {"name": "10000000-0000-0000-0000-000000000002", "roleDefinitionId": ROLE + "ea01e6af-a1c1-4350-9563-ad00f8c72ec5", "principalId": "44440000-0000-0000-0000-000000000001", "principalType": "ServicePrincipal", "description": "CI pipeline"},
                ],
                "assets": [
                    {"path": "environments/risk-env", "properties": {"description": "training image", "tags": {"base": "ubuntu22"}}},
                    {"path": "environments/risk-env/versions/7", "properties": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", "osType": "Linux"}},
                    {"path": "models/risk", "properties": {"description": "risk model"}},
                    {"path": "models/risk/versions/1", "properties": {"modelUri": "azureml://datastores/ledger/paths/risk/1", "modelType": "mlflow_model"}},
                    {"path": "models/risk/versions/2", "properties": {"modelUri": "azureml://datastores/ledger/paths/risk/2", "modelType": "mlflow_model"}},
                    {"path": "data/ledger-2026", "properties": {"description": "ledger extract"}},
                    {"path": "data/ledger-2026/versions/3", "properties": {"dataUri": "azureml://datastores/ledger/paths/2026/", "dataType": "uri_folder"}},
                ],
                "schedules": [
                    {"name": "nightly-retrain", "properties": {"displayName": "Nightly retrain", "isEnabled": True,
                                                               "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "W. Europe Standard Time"},
                                                               "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Command", "command": "python retrain.py", "computeId": "train-cluster"}}}},
                    {"name": "monthly-backfill", "properties": {"isEnabled": False, "trigger": {"triggerType": "Recurrence", "frequency": "Month", "interval": 1},
                                                                "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline"}}}},
                ],
            }
        ],  # fmt: skip
        "role_assignments": [
            {"scope": RG, "name": "20000000-0000-0000-0000-000000000001", "roleDefinitionId": ROLE + "b24988ac-6180-42a0-ab88-20f7382dd24c", "principalId": "55550000-0000-0000-0000-000000000001", "principalType": "Group", "description": "platform readers"},
            {"scope": f"/subscriptions/{SUB}", "name": "20000000-0000-0000-0000-000000000002", "roleDefinitionId": ROLE + "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "principalId": "55550000-0000-0000-0000-000000000002", "principalType": "Group", "description": "subscription owners"},
            {"scope": STORAGE, "name": "20000000-0000-0000-0000-000000000003", "roleDefinitionId": ROLE + "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "principalId": "22220000-0000-0000-0000-000000000001", "principalType": "ServicePrincipal", "description": "workspace identity: blob data contributor"},
            {"scope": VAULT, "name": "20000000-0000-0000-0000-000000000004", "roleDefinitionId": ROLE + "00482a5a-887f-4fb3-b363-3b7fe8e74483", "principalId": "22220000-0000-0000-0000-000000000001", "principalType": "ServicePrincipal", "description": "workspace identity: key vault administrator"},
            {"scope": CLUSTER, "name": "20000000-0000-0000-0000-000000000005", "roleDefinitionId": ROLE.replace(SUB, HUB_SUB) + "b24988ac-6180-42a0-ab88-20f7382dd24c", "principalId": "22220000-0000-0000-0000-000000000001", "principalType": "ServicePrincipal", "description": "workspace identity on the AKS cluster"},
            {"scope": OTHER_RG, "name": "20000000-0000-0000-0000-000000000006", "roleDefinitionId": ROLE + "b24988ac-6180-42a0-ab88-20f7382dd24c", "principalId": "66660000-0000-0000-0000-000000000001", "principalType": "User", "description": "not touched by the move"},
        ],  # fmt: skip
        "locks": [
            {"scope": RG, "name": "no-delete", "level": "CanNotDelete", "notes": "production resource group"},
            {"scope": STORAGE, "name": "storage-readonly", "level": "ReadOnly", "notes": "ledger data", "owners": [{"applicationId": "77770000-0000-0000-0000-000000000001"}]},
            {"scope": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-rich-moved", "name": "target-no-delete", "level": "CanNotDelete", "notes": "target group"},
            {"scope": OTHER_RG, "name": "unrelated-lock", "level": "CanNotDelete", "notes": "not touched by the move"},
        ],
        # What the caller may not do (read back through the Permissions API), and the target's deny policies.
        "denied_actions": [
            {"scope": WS, "actions": ["Microsoft.MachineLearningServices/workspaces/computes/delete"]},
            {"scope": TARGET_RG, "actions": ["Microsoft.Authorization/roleAssignments/write"]},
        ],
        "policies": [
            {"name": "eu-only", "scope": f"/subscriptions/{TARGET_SUB}", "locations": ["westeurope", "northeurope"]},
            {"name": "no-databricks", "initiative": "landing-zone", "scope": TARGET_RG, "resource_types": ["Microsoft.Databricks/workspaces"]},
            {"name": "no-aks", "initiative": "landing-zone", "scope": TARGET_RG, "resource_types": ["Microsoft.ContainerService/managedClusters"]},
            {"name": "unrelated-policy", "scope": OTHER_RG, "resource_types": ["Microsoft.Storage/storageAccounts"]},
        ],
    }
