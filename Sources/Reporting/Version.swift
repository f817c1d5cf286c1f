/// cem's version, in one place: `cem --version`, patch stores' `tool` and runs' `cem.version` tag.
public enum CEMVersion {
    public static let string = "0.1.0"
}
