from bpfexplain.cli import main

main()
