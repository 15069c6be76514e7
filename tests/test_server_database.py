"""The install's cached Prefect database (deployments/local_server.py), as the servers started on copies of it need it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def test_the_cached_database_has_every_block_type_a_server_would_register(prefect_migrated: Path) -> None:
    """Servers on a copy skip Prefect's block registration (local_server.REGISTERED): the copy must hold every block
    type the install's Prefect and its collections define, or the UI's blocks page and `Block.load` miss some."""
    import prefect.plugins
    from prefect.blocks.core import Block
    from prefect.utilities.dispatch import get_registry_for_type

    prefect.plugins.load_prefect_collections()
    defined = {block.get_block_type_slug() for block in (get_registry_for_type(Block) or {}).values()}
    with sqlite3.connect(prefect_migrated) as db:
        stored = {row[0] for row in db.execute("select slug from block_type")}
    assert defined and defined <= stored, sorted(defined - stored)
