"""The `tinykd` command line: main.py declares the commands and calls one stage function each (kd/, int8/,
compiler/, device/, report/); common.py holds the options shared by commands; device.py the device commands
(compile, build, flash, validate, emulate); run.py chains every stage for `tinykd run`."""
