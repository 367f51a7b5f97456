"""What every stage shares and no stage owns: the command line and settings, the method names, where a
run writes its files, one-line errors, Ctrl-C, and several GPUs. Standard library only at import time,
so that the command line is checked before torch loads."""
