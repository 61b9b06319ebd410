"""One-command Vast setup: the template, endpoint and workergroup that run a null-worker image.

    python -m deploy --image IMAGE --endpoint NAME [--dry-run] ...

Everything it does on Vast goes through the `vastai` package's own CLI, one `vastai ...`
command at a time; `--dry-run` prints those commands and runs none.
"""
