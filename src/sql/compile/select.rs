//! The statement: one plain SELECT over `input`, its items and its WHERE.

use sqlparser::ast::{self as ast, Spanned};

use super::{Compiler, Output};
use crate::sql::expr::Expr;

impl Compiler<'_> {
    pub(super) fn query(&mut self, q: &ast::Query) -> Option<(Vec<Output>, Option<Expr>)> {
        let span = q.span();
        if q.with.is_some() {
            self.error(span, "WITH (common table expressions) is not supported".into());
        }
        if q.order_by.is_some() {
            self.error(span, "ORDER BY is not supported: rows keep input order".into());
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            self.error(span, "LIMIT is not supported in a spec (use `spec try --limit`)".into());
        }
        let ast::SetExpr::Select(select) = q.body.as_ref() else {
            self.error(
                q.body.span(),
                "only a plain SELECT is supported (no UNION, VALUES or subquery)".into(),
            );
            return None;
        };
        self.select(select)
    }

    fn select(&mut self, s: &ast::Select) -> Option<(Vec<Output>, Option<Expr>)> {
        let span = s.span();
        if s.distinct.is_some() {
            self.error(
                span,
                "DISTINCT is not supported: chama evaluates one row at a time".into(),
            );
        }
        if !s.lateral_views.is_empty() {
            self.error(
                s.lateral_views[0].lateral_view.span(),
                "LATERAL VIEW is not supported: one input row gives at most one output row".into(),
            );
        }
        let grouped = match &s.group_by {
            ast::GroupByExpr::All(_) => true,
            ast::GroupByExpr::Expressions(e, _) => !e.is_empty(),
        };
        if grouped || s.having.is_some() {
            self.error(
                span,
                "GROUP BY and HAVING are not supported: chama evaluates one row at a time".into(),
            );
        }
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            self.error(span, "CLUSTER BY, DISTRIBUTE BY and SORT BY are not supported".into());
        }
        if s.top.is_some()
            || s.into.is_some()
            || s.qualify.is_some()
            || !s.named_window.is_empty()
            || s.prewhere.is_some()
        {
            self.error(span, "this SELECT clause is not supported".into());
        }
        match s.from.as_slice() {
            [one] => {
                if let Some(j) = one.joins.first() {
                    self.error(
                        j.relation.span(),
                        "JOIN is not supported: a spec reads one input".into(),
                    );
                }
                match &one.relation {
                    ast::TableFactor::Table { name, .. } if name.to_string().eq_ignore_ascii_case("input") => {}
                    other => self.error(other.span(), format!("read FROM input, not FROM {other}")),
                }
            }
            [] => self.error(span, "the SELECT needs FROM input".into()),
            [_, second, ..] => self.error(second.span(), "JOIN is not supported: a spec reads one input".into()),
        }

        let mut outputs = Vec::new();
        let mut names = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let name = match e {
                        ast::Expr::Identifier(i) => Some(i.value.to_lowercase()),
                        ast::Expr::CompoundIdentifier(p) => p.last().map(|i| i.value.to_lowercase()),
                        _ => None,
                    }
                    .unwrap_or_else(|| format!("_c{}", names.len()));
                    names.push(name.clone());
                    if let Some((expr, _)) = self.expr(e) {
                        outputs.push(Output { name, expr });
                    }
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    names.push(alias.value.to_lowercase());
                    if let Some((e, _)) = self.expr(expr) {
                        outputs.push(Output {
                            name: alias.value.to_lowercase(),
                            expr: e,
                        });
                    }
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    for (i, c) in self.columns.iter().enumerate() {
                        self.used[i] = true;
                        names.push(c.clone());
                        outputs.push(Output {
                            name: c.clone(),
                            expr: Expr::Column(i),
                        });
                    }
                }
                #[allow(unreachable_patterns)]
                other => self.error(other.span(), format!("select item `{other}` is not supported")),
            }
        }
        self.names = Some(names);
        let mut seen = std::collections::HashSet::new();
        for o in &outputs {
            if !seen.insert(o.name.as_str()) {
                self.error(
                    span,
                    format!(
                        "output column `{}` appears twice: give one of them another alias",
                        o.name
                    ),
                );
            }
        }
        let filter = match &s.selection {
            Some(w) => self.condition(w, "WHERE"),
            None => None,
        };
        Some((outputs, filter))
    }
}
