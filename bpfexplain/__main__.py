from bpfexplain.entry import main

main()
