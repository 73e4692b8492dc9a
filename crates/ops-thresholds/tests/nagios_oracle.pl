#!/usr/bin/perl
# Oracle for ops-thresholds' Nagios check mode (src/nagios.rs), run by tests/it/nagios.rs.
#
# Reads lines `warning<TAB>critical<TAB>value` on stdin (an empty warning or critical means
# "not set") and prints one line per input line: the status code Monitoring::Plugin computes,
#   Monitoring::Plugin::Threshold->set_thresholds(warning => ..., critical => ...)
#       ->get_status($value)
# i.e. 0 OK, 1 WARNING, 2 CRITICAL, or `error` when Monitoring::Plugin rejects either range.
#
# Rejection is decided with Monitoring::Plugin::Range->parse_range_string, the very check
# Threshold's constructor applies before it calls plugin_die (which would exit the process).
#
# Needs the Debian package libmonitoring-plugin-perl (Monitoring::Plugin 0.40 was used).
# Hand check:
#   printf '80\t90\t80.01\n10:\t5:\t7\n@10:20\t\t15\n2:1\t\t1\n' | perl tests/nagios_oracle.pl
#   -> 1, 1, 1, error

use strict;
use warnings;

use Monitoring::Plugin::Range;
use Monitoring::Plugin::Threshold;

# parse_range_string carps on every rejected range; the `error` line already says so.
local $SIG{__WARN__} = sub { };

while (my $line = <STDIN>) {
    chomp $line;
    $line =~ s/\r\z//;
    my @fields = split /\t/, $line, -1;
    die "line $.: expected warning<TAB>critical<TAB>value, got '$line'\n" unless @fields == 3;
    my ($warning, $critical, $value) = @fields;

    my $valid = 1;
    for my $text ($warning, $critical) {
        next if $text eq '';
        $valid = 0 unless defined Monitoring::Plugin::Range->parse_range_string($text);
    }
    if (!$valid) {
        print "error\n";
        next;
    }

    my $threshold = Monitoring::Plugin::Threshold->set_thresholds(
        warning  => ($warning eq '' ? undef : $warning),
        critical => ($critical eq '' ? undef : $critical),
    );
    print $threshold->get_status($value + 0), "\n";
}
