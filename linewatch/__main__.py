from linewatch.cli import main

main()
