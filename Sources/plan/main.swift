import PlanCLI

Plan.runAndExit()
