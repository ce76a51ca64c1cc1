"""Running suites: dataset x task x model, results as rows."""
