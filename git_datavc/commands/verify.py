"""`verify`: re-hash every object in the cache and report the corrupt ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .. import config, git, output
from ..cache import Cache
from ..errors import CorruptObject


def run(jobs: int = 2) -> int:
    repo = git.find_repo()
    cache = Cache(config.cache_root(repo, config.load(repo.root)))
    oids = list(cache.iter_oids())
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # blake3 releases the GIL
        results = list(pool.map(cache.verify, oids))
    bad = [oid for oid, ok in zip(oids, results) if not ok]
    if bad:
        for oid in bad:
            output.info(f"corrupt: {cache.path(oid)}")
        raise CorruptObject(
            f"{len(bad)} of {len(oids)} cache objects are corrupt",
            "delete them, then re-add the files or fetch them again from a remote")
    total = sum(cache.size(oid) for oid in oids)
    print(f"datavc: {len(oids)} objects ({output.human_size(total)}) verified, none corrupt")
    return 0
