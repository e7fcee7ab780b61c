from salescontrol.cli import main

raise SystemExit(main())
