mod evaluator;
mod nagios;
mod promtool;
mod rules;
mod sinks;
