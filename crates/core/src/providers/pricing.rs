//! The price table: data (`crates/core/data/prices.yaml`, replaced entry by entry by a vault's
//! `prices.yaml`), turned into a cost per call from the provider's token counts.

use super::Usage;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The table shipped in the binary.
pub const SHIPPED: &str = include_str!("../../data/prices.yaml");

/// Dollars per million tokens, in and out.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens.
    pub output: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    #[allow(dead_code)] // documents the table's date for people; not used in arithmetic
    as_of: Option<String>,
    prices: BTreeMap<String, Price>,
}

/// Prices by `provider:model`, with `provider:*` as a provider's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The shipped table with `overrides` (the text of a vault's `prices.yaml`) applied.
    pub fn load(overrides: Option<&str>) -> Result<PriceTable, String> {
        let mut table = parse(SHIPPED)?;
        if let Some(text) = overrides {
            table.prices.extend(parse(text)?.prices);
        }
        Ok(table)
    }

    /// The price of `provider:model`, if known.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        self.prices
            .get(&format!("{provider}:{model}"))
            .or_else(|| self.prices.get(&format!("{provider}:*")))
            .copied()
    }

    /// The cost of `usage` in millionths of a dollar, if the price is known.
    pub fn cost_micros(&self, provider: &str, model: &str, usage: Usage) -> Option<u64> {
        let price = self.price(provider, model)?;
        // $/Mtok × tokens = µ$ exactly: a million tokens at $1 is 1,000,000 µ$.
        let micros =
            price.input * usage.input_tokens as f64 + price.output * usage.output_tokens as f64;
        Some(micros.round() as u64)
    }
}

fn parse(text: &str) -> Result<PriceTable, String> {
    let file: PriceFile = serde_yaml_ng::from_str(text).map_err(|e| format!("prices.yaml: {e}"))?;
    for (name, price) in &file.prices {
        if !name.contains(':') {
            return Err(format!(
                "prices.yaml: `{name}` should be written `provider:model`"
            ));
        }
        if !(price.input.is_finite()
            && price.output.is_finite()
            && price.input >= 0.0
            && price.output >= 0.0)
        {
            return Err(format!(
                "prices.yaml: `{name}` needs two prices of zero or more"
            ));
        }
    }
    Ok(PriceTable {
        prices: file.prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_come_from_exact_entries_then_provider_defaults() {
        let table = PriceTable::load(Some(
            "prices:\n  \"openai:gpt-4o\": {input: 1, output: 2}\n",
        ))
        .expect("table");
        let usage = Usage {
            input_tokens: 1000,
            output_tokens: 500,
        };
        assert_eq!(table.cost_micros("openai", "gpt-4o", usage), Some(2000));
        assert_eq!(table.cost_micros("ollama", "llama3.1:8b", usage), Some(0));
        assert_eq!(table.cost_micros("openai", "unknown-model", usage), None);
        assert_eq!(
            table.cost_micros("anthropic", "claude-sonnet-4-5", usage),
            Some(3 * 1000 + 15 * 500)
        );
    }

    #[test]
    fn a_bad_table_is_refused() {
        assert!(PriceTable::load(Some("prices:\n  gpt: {input: 1, output: 2}\n")).is_err());
        assert!(PriceTable::load(Some("prices:\n  \"a:b\": {input: -1, output: 2}\n")).is_err());
        assert!(PriceTable::load(Some("prices:\n  \"a:b\": {input: 1}\n")).is_err());
    }
}
