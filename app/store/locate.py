"""Finding the site a command means, as Git finds .git: the folder, a parent, or the only one."""

from __future__ import annotations

from pathlib import Path

from vellum.errors import SiteError
from vellum.site.site import CONFIG_FILE
from vellum.store.git import GitRepo, work_tree_of


def find_site(start: Path | str) -> Path:
    """The site a command run in `start` means, found as Git finds .git: `start` or the
    nearest parent holding vellum.yml, else the only site of start's repository."""
    start = Path(start).resolve()
    if not start.is_dir():
        raise SiteError(f"Site folder {start} does not exist")
    top = work_tree_of(start)
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
        if folder == top:
            break
    if top is None:
        raise SiteError(
            f"{start} is not a Vellum site: no {CONFIG_FILE} in it or a parent folder, and it"
            " is not inside a Git repository (`vellum init DIR` starts a site)"
        )
    sites = _sites_in(top)
    if len(sites) == 1:
        return sites[0]
    if not sites:
        raise SiteError(
            f"{start} is not a Vellum site: no {CONFIG_FILE} in it, a parent folder or anywhere"
            f" in the repository {top} (`vellum init DIR` starts a site)"
        )
    names = ", ".join(p.relative_to(top).as_posix() or "." for p in sites)
    raise SiteError(
        f"{start} is not inside a Vellum site and the repository {top} holds {len(sites)}"
        f" ({names}): choose one with --site DIR or VELLUM_SITE"
    )


def _sites_in(top: Path) -> list[Path]:
    """The folders of a repository that hold vellum.yml."""
    repo = GitRepo(top)
    try:
        return [path.parent for path in repo.files_named(CONFIG_FILE)]
    finally:
        repo.close()
