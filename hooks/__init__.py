"""Git hook scripts, shipped as data: `vellum hooks install` writes them into a repository."""
