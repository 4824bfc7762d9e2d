from vipguard.cli import main

main()
