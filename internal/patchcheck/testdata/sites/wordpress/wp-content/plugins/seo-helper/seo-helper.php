<?php
/**
 * Plugin Name: SEO Helper
 * Description: Test fixture plugin without a Version header.
 */
