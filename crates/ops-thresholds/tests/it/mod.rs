mod evaluator;
mod nagios;
mod promql_rules;
mod promtool;
mod rules;
mod sinks;
