from supplynet.cli import main

main()
