<?php
/**
 * Plugin Name: Site Tweaks
 * Version: 0.3
 */
