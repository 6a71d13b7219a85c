/// An element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The element's name, e.g. `Conference`.
    pub name: String,
    /// Attributes in document order, values unescaped and normalised as an XML parser must.
    pub attributes: Vec<(String, String)>,
    /// Child elements and text, in document order; adjacent text (including character
    /// references and CDATA) is merged into one [`Node::Text`].
    pub children: Vec<Node>,
}

/// One child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// A run of text.
    Text(String),
}

impl Element {
    /// The value of attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The element's own text (not its descendants'), concatenated.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|child| match child {
                Node::Text(text) => Some(text.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|child| match child {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_see_only_direct_content() {
        let inner = Element {
            name: "Say".into(),
            attributes: vec![],
            children: vec![Node::Text("inner".into())],
        };
        let outer = Element {
            name: "Gather".into(),
            attributes: vec![("numDigits".into(), "1".into())],
            children: vec![
                Node::Text("a".into()),
                Node::Element(inner.clone()),
                Node::Text("b".into()),
            ],
        };
        assert_eq!(outer.text(), "ab");
        assert_eq!(outer.attribute("numDigits"), Some("1"));
        assert_eq!(outer.attribute("timeout"), None);
        assert_eq!(outer.elements().collect::<Vec<_>>(), [&inner]);
    }
}
