"""Key rotation: re-seal every stored secret under a fresh key without a window of unreadable data.

1. Write the key file with the new key first and the old keys after it: from now on new
   values are sealed with the new key and old ones still open.
2. Re-seal every row not yet under the new key, in batches.
3. Write the key file with only the new key.

A crash between steps leaves a key file that still opens everything; running it again resumes.
"""

from __future__ import annotations

import structlog

from pushrelay.config import Settings
from pushrelay.secrets import load_key_file, write_key_file
from pushrelay.store import protocol_tables
from pushrelay.store.database import Database
from pushrelay.store.schema import SEALED_COLUMNS
from pushrelay.store.sql import Store

log = structlog.get_logger(__name__)
BATCH = 500


async def rotate_key(settings: Settings) -> int:
    protocol_tables.load()
    path = settings.secrets.key_file
    keyring = load_key_file(path)
    if len(keyring.key_ids) == 1:
        keyring = keyring.with_new_key()
        write_key_file(path, keyring)
    database = Database(settings.store)
    try:
        await database.connect()
        await database.migrate()
        store = Store(database)
        pending = [row for row in await store.sealed_rows() if not keyring.is_current(row[2])]
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            await store.replace_sealed(
                [
                    (
                        index,
                        key,
                        keyring.seal(
                            SEALED_COLUMNS[index].label, keyring.open(SEALED_COLUMNS[index].label, blob)
                        ),
                    )
                    for index, key, blob in batch
                ]
            )
    finally:
        await database.dispose()
    write_key_file(path, keyring.only_current())
    log.info("secrets.rotated", resealed=len(pending), key_id=keyring.current_key_id)
    return len(pending)
