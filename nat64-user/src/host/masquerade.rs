//! The NAT44 step behind the translator: `ip saddr <pool> oifname <egress> masquerade`, in a
//! table of its own (`ip nat64_<tun-device>`) so removing it never touches the operator's rules.

use std::{borrow::Cow, net::Ipv4Addr};

use anyhow::{Context, Result};
use nftables::{
    batch::Batch,
    expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix},
    helper, schema,
    stmt::{Match, Operator, Statement},
    types::{NfChainType, NfFamily, NfHook},
};

/// netfilter's source-NAT priority (`srcnat`).
const SRCNAT_PRIORITY: i32 = 100;

/// The masquerade rule for one gateway instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masquerade {
    pub table: String,
    pub pool: (Ipv4Addr, u8),
    pub egress: String,
}

impl Masquerade {
    pub fn new(tun_device: &str, pool: (Ipv4Addr, u8), egress: &str) -> Self {
        Self {
            table: format!("nat64_{tun_device}"),
            pool,
            egress: egress.to_owned(),
        }
    }

    /// Creates the table, its postrouting NAT chain and the rule, in one transaction. A table
    /// of that name left by a run with `--keep` is replaced, not given a second rule.
    pub fn install(&self) -> Result<()> {
        let mut batch = Batch::new();
        batch.add(schema::NfListObject::Table(self.table_object()));
        batch.delete(schema::NfListObject::Table(self.table_object()));
        batch.add(schema::NfListObject::Table(self.table_object()));
        batch.add(schema::NfListObject::Chain(schema::Chain {
            family: NfFamily::IP,
            table: Cow::Borrowed(&self.table),
            name: "postrouting".into(),
            _type: Some(NfChainType::NAT),
            hook: Some(NfHook::Postrouting),
            prio: Some(SRCNAT_PRIORITY),
            ..Default::default()
        }));
        batch.add(schema::NfListObject::Rule(schema::Rule {
            family: NfFamily::IP,
            table: Cow::Borrowed(&self.table),
            chain: "postrouting".into(),
            expr: Cow::Owned(self.statements()),
            comment: Some("nat64: masquerade the dynamic pool".into()),
            ..Default::default()
        }));
        helper::apply_ruleset(&batch.to_nftables()).with_context(|| {
            format!(
                "installing nftables table ip {} (is nft installed?)",
                self.table
            )
        })
    }

    /// Deletes the table with everything in it.
    pub fn remove(&self) -> Result<()> {
        let mut batch = Batch::new();
        batch.delete(schema::NfListObject::Table(self.table_object()));
        helper::apply_ruleset(&batch.to_nftables())
            .with_context(|| format!("removing nftables table ip {}", self.table))
    }

    fn table_object(&self) -> schema::Table<'_> {
        schema::Table {
            family: NfFamily::IP,
            name: Cow::Borrowed(&self.table),
            ..Default::default()
        }
    }

    fn statements(&self) -> Vec<Statement<'static>> {
        let (network, len) = self.pool;
        vec![
            Statement::Match(Match {
                left: Expression::Named(NamedExpression::Payload(Payload::PayloadField(
                    PayloadField {
                        protocol: "ip".into(),
                        field: "saddr".into(),
                    },
                ))),
                right: Expression::Named(NamedExpression::Prefix(Prefix {
                    addr: Box::new(Expression::String(network.to_string().into())),
                    len: u32::from(len),
                })),
                op: Operator::EQ,
            }),
            Statement::Match(Match {
                left: Expression::Named(NamedExpression::Meta(Meta {
                    key: MetaKey::Oifname,
                })),
                right: Expression::String(self.egress.clone().into()),
                op: Operator::EQ,
            }),
            Statement::Masquerade(None),
        ]
    }
}
