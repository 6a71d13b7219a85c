//! Attribute storage shared by every verb and noun, and the macro that writes their setters.

/// Attributes in the order they were first set, as the helper libraries write them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attrs(Vec<(&'static str, String)>);

impl Attrs {
    /// Sets `name`; a second set replaces the value but keeps the original position, as a
    /// JavaScript object key does in `twilio-node`.
    pub(crate) fn set(&mut self, name: &'static str, value: String) {
        match self.0.iter_mut().find(|(existing, _)| *existing == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name, value)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(existing, _)| *existing == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(name, value)| (*name, value.as_str()))
    }
}

/// How a typed attribute value is spelled in TwiML.
pub(crate) trait AttrValue {
    fn attr_value(&self) -> String;
}

impl AttrValue for bool {
    fn attr_value(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
}

impl AttrValue for u32 {
    fn attr_value(&self) -> String {
        self.to_string()
    }
}

/// TwiML lists are single attributes whose items are separated by spaces.
pub(crate) fn join<T: AttrValue>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|value| value.attr_value())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes builder setters that store an attribute under its TwiML name, plus an `attribute`
/// getter. Kinds: `text` takes any string, `value<T>` a typed value, `list<T>` any iterator of
/// typed values.
macro_rules! attribute_setters {
    ($( $(#[doc = $doc:literal])* $setter:ident: $kind:ident $(<$ty:ty>)? = $name:literal; )*) => {
        $( attribute_setters!(@one [$($doc)*] $setter $kind [$($ty)?] $name); )*

        /// The value of an attribute already set, by its TwiML name (e.g. `"statusCallback"`).
        pub fn attribute(&self, name: &str) -> Option<&str> {
            self.attrs.get(name)
        }
    };
    (@one [$($doc:literal)*] $setter:ident text [] $name:literal) => {
        #[doc = concat!("Sets `", $name, "`.")]
        $(#[doc = $doc])*
        #[must_use]
        pub fn $setter(mut self, value: impl Into<String>) -> Self {
            self.attrs.set($name, value.into());
            self
        }
    };
    (@one [$($doc:literal)*] $setter:ident value [$ty:ty] $name:literal) => {
        #[doc = concat!("Sets `", $name, "`.")]
        $(#[doc = $doc])*
        #[must_use]
        pub fn $setter(mut self, value: $ty) -> Self {
            self.attrs.set($name, $crate::attrs::AttrValue::attr_value(&value));
            self
        }
    };
    (@one [$($doc:literal)*] $setter:ident list [$ty:ty] $name:literal) => {
        #[doc = concat!("Sets `", $name, "`, written space-separated.")]
        $(#[doc = $doc])*
        #[must_use]
        pub fn $setter(mut self, values: impl IntoIterator<Item = $ty>) -> Self {
            self.attrs.set($name, $crate::attrs::join(values));
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_set_order_and_replaces_in_place() {
        let mut attrs = Attrs::default();
        attrs.set("b", "1".into());
        attrs.set("a", "2".into());
        attrs.set("b", "3".into());
        assert_eq!(attrs.iter().collect::<Vec<_>>(), [("b", "3"), ("a", "2")]);
        assert_eq!(attrs.get("a"), Some("2"));
        assert_eq!(attrs.get("c"), None);
    }

    #[test]
    fn booleans_are_lowercase_and_lists_space_separated() {
        assert_eq!(true.attr_value(), "true");
        assert_eq!(false.attr_value(), "false");
        assert_eq!(join([1u32, 20, 300]), "1 20 300");
        assert_eq!(join(Vec::<u32>::new()), "");
    }
}
