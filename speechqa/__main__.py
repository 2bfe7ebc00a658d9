from speechqa.cli import main

raise SystemExit(main())
