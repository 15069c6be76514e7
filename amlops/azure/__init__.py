"""The only code that calls Azure SDKs: typed gateway functions returning amlops.models."""
