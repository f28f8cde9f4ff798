from popreg.cli import main

main()
