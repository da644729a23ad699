<?php
// Helpers, no plugin header. Version: 0.0.1 appears in a comment but
// without a Plugin Name header this file is not the plugin's main file.
