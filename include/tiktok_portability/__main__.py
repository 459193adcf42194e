from tiktok_portability.cli import main

raise SystemExit(main())
