//! Reading a primitive's option map, with errors that name the function and the option.

use rhai::{Dynamic, Map};

use crate::effects::Unknown;
use crate::error::Error;

/// The option map passed to a primitive.
pub(crate) struct Opts<'a> {
    pub function: &'static str,
    pub map: &'a Map,
}

impl<'a> Opts<'a> {
    pub fn new(function: &'static str, map: &'a Map) -> Self {
        Opts { function, map }
    }

    fn wrong(&self, key: &str, expected: &str, got: &Dynamic) -> Error {
        Error::invalid_argument(
            self.function,
            key,
            format!("expected {expected}, got {}", describe(got)),
            format!("pass `{key}` as {expected}"),
        )
    }

    fn missing(&self, key: &str, expected: &str) -> Error {
        Error::invalid_argument(
            self.function,
            key,
            "missing".to_string(),
            format!("add `{key}: <{expected}>` to the options map"),
        )
    }

    /// A value that is there, is not `()`, and is not unknown.
    fn get(&self, key: &str) -> Option<&'a Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }

    /// Whether the option is a value a plan does not know yet.
    pub fn is_unknown(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.is::<Unknown>())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    pub fn str(&self, key: &str) -> Result<String, Error> {
        self.opt_str(key)?
            .ok_or_else(|| self.missing(key, "string"))
    }

    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .map(Some)
                .map_err(|_| self.wrong(key, "an integer", v)),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().map_err(|_| self.wrong(key, "true or false", v)),
        }
    }

    pub fn opt_map(&self, key: &str) -> Result<Option<Map>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.is_map() => Ok(v.clone().try_cast::<Map>()),
            Some(v) => Err(self.wrong(key, "a map #{...}", v)),
        }
    }

    pub fn str_list(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) if v.is_string() => Ok(vec![v.to_string()]),
            Some(v) if v.is_array() => v
                .clone()
                .into_array()
                .unwrap_or_default()
                .into_iter()
                .map(|item| {
                    if item.is_string() {
                        Ok(item.to_string())
                    } else {
                        Err(self.wrong(key, "a list of strings", &item))
                    }
                })
                .collect(),
            Some(v) => Err(self.wrong(key, "a list of strings", v)),
        }
    }

    /// Refuses options this function does not know, so a typo (`algoritm`) is an error
    /// instead of a silently ignored setting.
    pub fn only(&self, known: &[&str]) -> Result<(), Error> {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(Error::invalid_argument(
                    self.function,
                    key,
                    "unknown option".to_string(),
                    format!("the options are: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// A script value for an error message: its type, and its value when short. A plan's
/// placeholder reads as `(known after apply)`, never as a Rust type name.
pub(crate) fn describe(v: &Dynamic) -> String {
    if v.is::<Unknown>() {
        return format!("a value not known until apply {}", Unknown::TEXT);
    }
    let text = v.to_string();
    let type_name = v.type_name().rsplit("::").next().unwrap_or("value");
    if text.chars().count() <= 40 {
        format!("{type_name} ({text})")
    } else {
        type_name.to_string()
    }
}
