from lantai.cli import main

main()
