"""Provider state models: the rules of Azure, with no HTTP in sight."""
