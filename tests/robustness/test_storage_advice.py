"""SQLite studies on a network file system are flagged (its locking is unreliable there)."""

from search.studies import sqlite_on_network_filesystem

MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /shared nfs4 rw,relatime 0 0
/dev/sdb1 /shared/local ext4 rw 0 0
tmpfs /tmp tmpfs rw 0 0
"""


def test_sqlite_below_an_nfs_mount_is_flagged(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert sqlite_on_network_filesystem("sqlite:////shared/runs/optuna.db", mounts) == "nfs4"
    assert sqlite_on_network_filesystem("sqlite:////shared/local/optuna.db", mounts) == ""  # deepest mount wins
    assert sqlite_on_network_filesystem("sqlite:////home/me/runs/optuna.db", mounts) == ""
    assert sqlite_on_network_filesystem("postgresql://db/studies", mounts) == ""
    assert sqlite_on_network_filesystem("sqlite:////shared/x.db", tmp_path / "no-such-file") == ""
