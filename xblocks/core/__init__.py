"""Model-free building blocks shared by the Kafaat apps: settings, platform compat, safe XML, HTML, i18n."""
