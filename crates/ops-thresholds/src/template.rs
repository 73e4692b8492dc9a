//! Annotation templates: `{{ value }}`, `{{ threshold }}`, `{{ name }}`, `{{ labels.KEY }}`.

use std::fmt::Write as _;

/// Renders `template`: `{{ value }}` and `{{ threshold }}` with one decimal (the playbook's
/// `{:.1f}`), `{{ name }}` the rule's name, `{{ labels.KEY }}` a label's value. Unknown
/// placeholders are left as written.
pub(crate) fn render(
    template: &str,
    value: f64,
    threshold: f64,
    name: &str,
    labels: &[(String, String)],
) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        match key {
            "value" | "$value" => {
                let _ = write!(out, "{value:.1}");
            }
            "threshold" => {
                let _ = write!(out, "{threshold:.1}");
            }
            "name" => out.push_str(name),
            k => match k
                .strip_prefix("labels.")
                .or_else(|| k.strip_prefix("$labels."))
            {
                Some(label) => {
                    if let Some((_, v)) = labels.iter().find(|(k, _)| k == label) {
                        out.push_str(v);
                    }
                }
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            },
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod test {
    use super::render;

    #[test]
    fn renders_the_playbooks_messages() {
        let labels = vec![("mount".to_owned(), "/".to_owned())];
        assert_eq!(
            render("High CPU usage: {{ value }}%", 93.24, 80.0, "HighCpu", &[]),
            "High CPU usage: 93.2%"
        );
        assert_eq!(
            render(
                "High disk usage on {{labels.mount}}: {{value}}%",
                91.5,
                90.0,
                "x",
                &labels
            ),
            "High disk usage on /: 91.5%"
        );
        assert_eq!(
            render(
                "{{ name }} over {{ threshold }} {{ nope }} {{ unclosed",
                1.0,
                80.0,
                "R",
                &[]
            ),
            "R over 80.0 {{ nope }} {{ unclosed"
        );
    }
}
