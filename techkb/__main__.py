from techkb.cli import main

main()
