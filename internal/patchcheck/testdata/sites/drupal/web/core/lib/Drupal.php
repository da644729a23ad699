<?php

/**
 * Test fixture shaped like Drupal's static service container wrapper.
 */
class Drupal {

  /**
   * The current system version.
   */
  const VERSION = '10.1.6';

  const CORE_COMPATIBILITY = '8.x';
}
