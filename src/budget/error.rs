//! Errors of the budget allocator: bad input (naming the entity and field), infeasible
//! constraints (naming the constraint and by how much), and unreachable targets.

/// Why an allocation problem was rejected. Every message is one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// A field of one entity is invalid.
    #[error("entity {entity}: {field}: {message}")]
    Invalid {
        entity: String,
        field: String,
        message: String,
    },
    /// A problem-level field (budget, target, the entity list) is invalid.
    #[error("{field}: {message}")]
    Problem { field: String, message: String },
    /// The constraints admit no allocation; the message names the constraint and the gap.
    #[error("infeasible constraints: {0}")]
    Infeasible(String),
    /// A target CPA/ROAS that no allocation within the budget and bounds can meet.
    #[error("target unreachable: {0}")]
    Unreachable(String),
}

impl BudgetError {
    pub(crate) fn invalid(
        entity: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        if entity == "-" {
            return BudgetError::Problem {
                field: field.into(),
                message: message.into(),
            };
        }
        BudgetError::Invalid {
            entity: entity.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}
