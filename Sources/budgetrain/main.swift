import BudgetEngine
print("budgetrain")
