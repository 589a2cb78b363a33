//! Built-in detectors. Each finds candidates by a cheap trigger (a byte,
//! a literal prefix) and then validates them, so plain prose costs little.

pub(crate) mod checks;
pub(crate) mod email;
pub(crate) mod network;
pub(crate) mod numeric;
pub(crate) mod secrets;
pub(crate) mod trigger;

/// Every built-in detector, by its config name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    Email,
    Phone,
    CreditCard,
    Iban,
    UsSsn,
    IpAddress,
    OpenaiKey,
    AnthropicKey,
    AwsAccessKey,
    GithubToken,
    SlackToken,
    GoogleApiKey,
    StripeKey,
    HuggingfaceToken,
    Jwt,
    PrivateKey,
}

impl Builtin {
    pub const ALL: [Builtin; 16] = [
        Builtin::Email,
        Builtin::Phone,
        Builtin::CreditCard,
        Builtin::Iban,
        Builtin::UsSsn,
        Builtin::IpAddress,
        Builtin::OpenaiKey,
        Builtin::AnthropicKey,
        Builtin::AwsAccessKey,
        Builtin::GithubToken,
        Builtin::SlackToken,
        Builtin::GoogleApiKey,
        Builtin::StripeKey,
        Builtin::HuggingfaceToken,
        Builtin::Jwt,
        Builtin::PrivateKey,
    ];

    /// The name used under `detectors:` in the config.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Email => "email",
            Builtin::Phone => "phone",
            Builtin::CreditCard => "credit_card",
            Builtin::Iban => "iban",
            Builtin::UsSsn => "us_ssn",
            Builtin::IpAddress => "ip_address",
            Builtin::OpenaiKey => "openai_key",
            Builtin::AnthropicKey => "anthropic_key",
            Builtin::AwsAccessKey => "aws_access_key",
            Builtin::GithubToken => "github_token",
            Builtin::SlackToken => "slack_token",
            Builtin::GoogleApiKey => "google_api_key",
            Builtin::StripeKey => "stripe_key",
            Builtin::HuggingfaceToken => "huggingface_token",
            Builtin::Jwt => "jwt",
            Builtin::PrivateKey => "private_key",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The entity type printed in placeholders, e.g. `EMAIL` in `<EMAIL>`.
    pub fn tag(self) -> &'static str {
        match self {
            Builtin::Email => "EMAIL",
            Builtin::Phone => "PHONE",
            Builtin::CreditCard => "CREDIT_CARD",
            Builtin::Iban => "IBAN",
            Builtin::UsSsn => "US_SSN",
            Builtin::IpAddress => "IP_ADDRESS",
            Builtin::OpenaiKey => "OPENAI_KEY",
            Builtin::AnthropicKey => "ANTHROPIC_KEY",
            Builtin::AwsAccessKey => "AWS_ACCESS_KEY",
            Builtin::GithubToken => "GITHUB_TOKEN",
            Builtin::SlackToken => "SLACK_TOKEN",
            Builtin::GoogleApiKey => "GOOGLE_API_KEY",
            Builtin::StripeKey => "STRIPE_KEY",
            Builtin::HuggingfaceToken => "HUGGINGFACE_TOKEN",
            Builtin::Jwt => "JWT",
            Builtin::PrivateKey => "PRIVATE_KEY",
        }
    }

    /// Credentials, as opposed to personal data.
    pub fn is_secret(self) -> bool {
        !matches!(
            self,
            Builtin::Email | Builtin::Phone | Builtin::CreditCard | Builtin::Iban | Builtin::UsSsn | Builtin::IpAddress
        )
    }
}

/// ASCII letters, digits and `_`: what makes a match not start or end on a
/// word boundary. Non-ASCII bytes count as boundaries (fail towards matching).
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[inline]
pub(crate) fn word_before(s: &[u8], i: usize) -> bool {
    i > 0 && is_word(s[i - 1])
}

#[inline]
pub(crate) fn word_at(s: &[u8], i: usize) -> bool {
    i < s.len() && is_word(s[i])
}
