"""`python -m tunesmith.config --markdown` or `--write README.md`: the configuration reference table."""

from tunesmith.config.reference import main

raise SystemExit(main())
