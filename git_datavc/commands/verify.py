"""`verify`: re-hash every object in the cache and report the corrupt ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .. import cachechunks, config, git, output
from ..cache import Cache
from ..errors import CorruptObject


def run(jobs: int = 2, remote: str | None = None) -> int:
    if remote is not None:
        return run_remote(remote or None, jobs)
    repo = git.find_repo()
    cache = Cache(config.cache_root(repo, config.load(repo.root)))
    oids = list(cache.iter_oids())
    chunked = [oid for oid in cachechunks.iter_chunked(cache) if not cache.has_whole(oid)]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # blake3 releases the GIL
        results = list(pool.map(cache.verify, oids))
        reasons = list(pool.map(lambda oid: cachechunks.check(cache, oid), chunked))
    bad = [oid for oid, ok in zip(oids, results) if not ok]
    broken = [(oid, why) for oid, why in zip(chunked, reasons) if why is not None]
    for oid in bad:
        output.info(f"corrupt: {cache.path(oid)}")
    for oid, why in broken:
        output.info(f"corrupt: chunked object {oid}: {why}")
    count = len(oids) + len(chunked)
    if bad or broken:
        raise CorruptObject(
            f"{len(bad) + len(broken)} of {count} cache objects are corrupt",
            "delete them, then re-add the files or fetch them again from a remote")
    total = sum(cache.size(oid) for oid in oids + chunked)
    print(f"datavc: {count} objects ({output.human_size(total)}) verified, none corrupt"
          + (f" ({len(chunked)} of them chunked)" if chunked else ""))
    return 0


def run_remote(name: str | None, jobs: int) -> int:
    """`verify --remote`: read every object of the remote back and check it; name the
    objects a corrupt chunk, a missing pack or a corrupt whole object breaks."""
    from .. import packmaint, sync

    _, _, remote = sync.open_named(git.find_repo(), name)
    try:
        report = packmaint.verify_remote(remote, jobs)
    finally:
        remote.close()
    for oid, why in sorted(report.broken.items()):
        output.info(f"broken: {oid}: {why}")
    if report.broken:
        raise CorruptObject(f"{len(report.broken)} of {report.objects} objects on remote "
                            f"{remote.name} cannot be read back intact",
                            "a clone whose cache has them can push them again (layout 1: `git "
                            "datavc push --check-all`; layout 2 cannot repair a pack in place "
                            "yet: push them to another remote)")
    print(f"datavc: {report.objects} objects on remote {remote.name} verified "
          f"({output.human_size(report.bytes)} read), none corrupt")
    return 0
