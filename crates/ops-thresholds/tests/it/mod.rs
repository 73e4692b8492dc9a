mod evaluator;
mod export;
mod nagios;
mod promql_rules;
mod promtool;
mod rules;
mod sinks;
