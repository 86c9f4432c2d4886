// Entry point: parse the command line, run the command, exit with a code scripts and CI can
// rely on (see `ExitStatus`).
BudgetrainCommand.runAndExit()
