"""Ray Tune search over ssflow configurations, one study per dataset category."""
