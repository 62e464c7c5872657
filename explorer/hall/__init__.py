"""What a lecture hall's server adds: its settings and budgets, stored uploads, the lecturer's
broadcast for students who follow, and the class challenge."""
